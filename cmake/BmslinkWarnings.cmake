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
# The graph is enforced by include paths: each module gets an include root of its own in the build
# tree holding only bmslink/<module> (a link to include/bmslink/<module>) and, privately, only its
# own src/<module>. A module sees another module's headers only through a PUBLIC link dependency,
# so an include against the direction of ARCHITECTURE.md fails to compile.
function(bmslink_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS" ${ARGN})
  set(public_root ${CMAKE_BINARY_DIR}/module-include/${name})
  set(private_root ${CMAKE_BINARY_DIR}/module-src/${name})
  file(MAKE_DIRECTORY ${public_root}/bmslink ${private_root})
  if(NOT EXISTS ${public_root}/bmslink/${name})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/include/bmslink/${name} ${public_root}/bmslink/${name}
         SYMBOLIC)
  endif()
  if(NOT EXISTS ${private_root}/${name})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${name} ${private_root}/${name} SYMBOLIC)
  endif()
  add_library(bmslink_${name} STATIC ${M_SOURCES})
  target_include_directories(bmslink_${name} PUBLIC ${public_root} PRIVATE ${private_root})
  target_link_libraries(bmslink_${name} PUBLIC ${M_DEPS})
  bmslink_set_warnings(bmslink_${name})
endfunction()
