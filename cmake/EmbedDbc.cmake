# Writes a C++ source holding every data/protocols/*.dbc as a string, so the binary carries its
# protocol definitions. Runs at configure time; editing a .dbc re-runs it.
function(bmslink_embed_dbc out_file)
  file(GLOB dbc_files CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/data/protocols/*.dbc)
  list(SORT dbc_files)
  # Editing a file re-runs the configure step (the glob alone only sees files come and go).
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${dbc_files})
  set(body "// Generated from data/protocols/*.dbc by cmake/EmbedDbc.cmake. Do not edit.\n")
  string(APPEND body "#include \"bmslink/protocol/builtin.h\"\n\nnamespace bmslink::protocol::generated {\n")
  string(APPEND body "extern const std::vector<BuiltinProtocol> kProtocols;\n")
  string(APPEND body "const std::vector<BuiltinProtocol> kProtocols = {\n")
  foreach(f ${dbc_files})
    get_filename_component(name ${f} NAME_WE)
    file(READ ${f} text)
    string(APPEND body "  {\"${name}\", R\"bmslinkdbc(${text})bmslinkdbc\"},\n")
  endforeach()
  string(APPEND body "};\n}  // namespace bmslink::protocol::generated\n")
  # Written via a temporary so an unchanged result keeps its timestamp (no needless rebuilds).
  file(WRITE ${out_file}.tmp "${body}")
  configure_file(${out_file}.tmp ${out_file} COPYONLY)
endfunction()
