# Compiles one snippet against the public headers and checks what the compiler says, the way a
# user of the installed package would see it. Run by ctest (see CMakeLists.txt):
#   cmake -DCXX=... -DINCLUDE=... [-DLAYER=<include root>] -DSOURCE=... -DEXPECT=fail|warn|clean -DREGEX=... -P check_compile.cmake
# fail:  the compiler must reject the snippet, and its output must match every REGEX (`;`-separated).
# warn:  it must compile with warnings on, and its output must match every REGEX.
# clean: it must compile with -Werror.
cmake_minimum_required(VERSION 3.25)
set(flags -std=c++20 -fsyntax-only -Wall -Wextra -I${INCLUDE})
# A layer's include root (src/CMakeLists.txt): the snippet sees what that layer's sources see.
if(LAYER)
  list(APPEND flags -I${LAYER})
endif()
if(EXPECT STREQUAL "clean")
  list(APPEND flags -Werror)
endif()
execute_process(COMMAND ${CXX} ${flags} ${SOURCE} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT 120)
set(text "${out}${err}")
if(EXPECT STREQUAL "fail" AND rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must be rejected")
elseif(NOT EXPECT STREQUAL "fail" AND NOT rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} did not compile:\n${text}")
endif()
foreach(re IN LISTS REGEX)
  if(NOT text MATCHES "${re}")
    message(FATAL_ERROR "the compiler's output for ${SOURCE} does not match '${re}':\n${text}")
  endif()
endforeach()
message(STATUS "${SOURCE}: as expected (${EXPECT})")
