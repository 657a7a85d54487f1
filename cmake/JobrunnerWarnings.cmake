# jobrunner_set_warnings(target): warnings are set per target, never globally,
# so that users who add_subdirectory() us keep their own flags.
function(jobrunner_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                         -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
                         -Woverloaded-virtual -Wnull-dereference
                         # GCC 12 warns on designated initializers that rely on
                         # default member initializers, our usual idiom.
                         -Wno-missing-field-initializers)
  if(JOBRUNNER_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
