# tierwise_migrations(<target> NAMESPACE <c++ namespace> DIR <dir of NNN_name.sql files>)
#
# Embeds the SQL files into a static library <target> exposing
#   const std::vector<tierwise::postgres::Migration>& <namespace>::Migrations();
# so a service binary carries its own schema and needs no files at run time.
function(tierwise_migrations target)
  cmake_parse_arguments(ARG "" "NAMESPACE;DIR" "" ${ARGN})
  file(GLOB sql_files CONFIGURE_DEPENDS "${ARG_DIR}/*.sql")
  list(SORT sql_files)
  set(body "")
  foreach(file ${sql_files})
    get_filename_component(fname "${file}" NAME_WE)
    if(NOT fname MATCHES "^([0-9]+)_(.+)$")
      message(FATAL_ERROR "migration ${file} must be named NNN_name.sql")
    endif()
    math(EXPR version "${CMAKE_MATCH_1}")
    set(mname "${CMAKE_MATCH_2}")
    file(READ "${file}" sql)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${file}")
    string(APPEND body "      {${version}, \"${mname}\", R\"tierwise_sql(${sql})tierwise_sql\"},\n")
  endforeach()
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${target}.cc")
  file(WRITE "${out}.tmp" "// Generated from ${ARG_DIR}; do not edit.
#include <vector>

#include \"common/postgres/migrations.h\"

namespace ${ARG_NAMESPACE} {

const std::vector<tierwise::postgres::Migration>& Migrations() {
  static const auto* const kMigrations = new std::vector<tierwise::postgres::Migration>{
${body}  };
  return *kMigrations;
}

}  // namespace ${ARG_NAMESPACE}
")
  configure_file("${out}.tmp" "${out}" COPYONLY)
  add_library(${target} STATIC "${out}")
  target_link_libraries(${target} PUBLIC tierwise_common_postgres)
endfunction()
