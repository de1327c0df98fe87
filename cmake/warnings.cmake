# Warning flags for the project's own targets (never forced on consumers).
function(logfire_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                                           -Wnon-virtual-dtor -Woverloaded-virtual)
  if(LOGFIRE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
