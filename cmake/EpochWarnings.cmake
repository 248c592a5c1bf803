# epoch_target_warnings(<target>): the project's warning set on a target.
function(epoch_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough)
  if(EPOCH_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
