# Strict warnings for every bmslink target (fmt's and libcanard's pedantic sets).
function(bmslink_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
    -Wnull-dereference -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wduplicated-cond -Wlogical-op -Wuseless-cast
      # GCC 12 reports std::string assignments at -O3 as overlapping memcpy (GCC bug 105329).
      -Wno-restrict)
  endif()
  if(BMSLINK_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# One static library per module, with its public headers under include/bmslink/<module>.
function(bmslink_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS" ${ARGN})
  add_library(bmslink_${name} STATIC ${M_SOURCES})
  target_include_directories(bmslink_${name}
    PUBLIC ${PROJECT_SOURCE_DIR}/include
    PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(bmslink_${name} PUBLIC ${M_DEPS})
  bmslink_set_warnings(bmslink_${name})
endfunction()
