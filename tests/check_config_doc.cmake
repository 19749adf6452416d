# docs/config.md must be exactly what `diffclip config --reference` prints, so the
# configuration reference cannot drift from the schema (src/config/config_schema.c).
#   cmake -DDIFFCLIP=<diffclip binary> -DDOC=<source>/docs/config.md -P check_config_doc.cmake
execute_process(COMMAND ${DIFFCLIP} config --reference
                OUTPUT_VARIABLE generated RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "`diffclip config --reference` failed (exit ${rc}): ${err}")
endif()
if(NOT EXISTS ${DOC})
  message(FATAL_ERROR "${DOC} is missing. Generate it from the source folder with:\n"
                      "  build/diffclip config --reference > docs/config.md")
endif()
file(READ ${DOC} committed)
if(NOT generated STREQUAL committed)
  message(FATAL_ERROR "docs/config.md is out of date with the configuration schema "
                      "(src/config/config_schema.c). Regenerate it from the source folder with:\n"
                      "  build/diffclip config --reference > docs/config.md\n"
                      "and commit it.")
endif()
message(STATUS "docs/config.md matches the schema")
