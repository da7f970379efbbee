# Writes a C++ source holding every data/<dir>/*.json as a string, returned by a function of
# bmslink::diagnosis::detail (src/diagnosis/embedded_data.h). Runs at configure time; editing a
# file re-runs it.
function(bmslink_embed_json out_file dir function)
  file(GLOB files CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/data/${dir}/*.json)
  list(SORT files)
  # Editing a file re-runs the configure step (the glob alone only sees files come and go).
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${files})
  set(body "// Generated from data/${dir}/*.json by cmake/EmbedData.cmake. Do not edit.\n")
  string(APPEND body "#include \"diagnosis/embedded_data.h\"\n\nnamespace bmslink::diagnosis::detail {\n")
  string(APPEND body "const EmbeddedFiles& ${function}() {\n  static const EmbeddedFiles kFiles = {\n")
  foreach(f ${files})
    get_filename_component(name ${f} NAME)
    file(READ ${f} text)
    string(APPEND body "      {\"${name}\", R\"bmslinkjson(${text})bmslinkjson\"},\n")
  endforeach()
  string(APPEND body "  };\n  return kFiles;\n}\n}  // namespace bmslink::diagnosis::detail\n")
  file(WRITE ${out_file}.tmp "${body}")
  configure_file(${out_file}.tmp ${out_file} COPYONLY)
endfunction()
