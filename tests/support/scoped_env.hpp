// An environment variable set for the scope of a test, restored (or unset) afterwards.
//
//   scoped_env level("LOGFIRE_MIN_LEVEL", "warn");
#pragma once

#include <cstdlib>
#include <string>

// Sets a variable for the scope of the guard.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    ::setenv(name, value, 1);
  }
  ~scoped_env() {
    if (had_)
      ::setenv(name_, old_.c_str(), 1);
    else
      ::unsetenv(name_);
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};
