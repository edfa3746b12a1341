# tern_idl_generate(<var> FILE.tidl [OUTPUT_DIR dir] [IMPORT_DIRS dir...])
#
# Generates C from a tern interface definition at build time (docs/idl.md):
# FILE.h, FILE_xdr.c, FILE_client.c and FILE_server.c in OUTPUT_DIR
# (default: the current binary directory), and sets <var> to the three .c
# files. The header is not added anywhere: add OUTPUT_DIR to the include
# directories of the targets that use it, and link them with tern:
#
#   include(TernIdl)    # installed: find it in <prefix>/lib/cmake/tern
#   tern_idl_generate(CALC_SOURCES calc.tidl OUTPUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/gen)
#   add_executable(calc_server server.c ${CALC_SOURCES})
#   target_include_directories(calc_server PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/gen)
#   target_link_libraries(calc_server PRIVATE tern)
#
# (A program that is only a client or only a server may leave out the other
# side's file; FILE_xdr.c is needed by both.) Imports are looked for next
# to the importing file, then in IMPORT_DIRS. The files are regenerated
# when FILE.tidl, anything it imports, or the compiler changes.
#
# The compiler is the tern_idlc target when tern itself is being built in
# the same project, otherwise `tern idl` from the installed tern CLI.
function(tern_idl_generate var file)
  cmake_parse_arguments(TI "" "OUTPUT_DIR" "IMPORT_DIRS" ${ARGN})
  if(TI_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "tern_idl_generate: unexpected arguments ${TI_UNPARSED_ARGUMENTS}")
  endif()
  get_filename_component(source ${file} ABSOLUTE)
  get_filename_component(base ${file} NAME_WE)
  if(TI_OUTPUT_DIR)
    get_filename_component(dir ${TI_OUTPUT_DIR} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_BINARY_DIR})
  else()
    set(dir ${CMAKE_CURRENT_BINARY_DIR})
  endif()

  if(TARGET tern_idlc)
    set(compiler $<TARGET_FILE:tern_idlc>)
    set(compiler_dep tern_idlc)
  else()
    find_program(TERN_EXECUTABLE tern REQUIRED)
    set(compiler ${TERN_EXECUTABLE} idl)
    set(compiler_dep ${TERN_EXECUTABLE})
  endif()

  set(imports)
  foreach(d ${TI_IMPORT_DIRS})
    get_filename_component(d ${d} ABSOLUTE)
    list(APPEND imports -I ${d})
  endforeach()

  set(outputs ${dir}/${base}.h ${dir}/${base}_xdr.c ${dir}/${base}_client.c ${dir}/${base}_server.c)
  # The compiler names every file it read in a depfile, so imports count.
  set(depfile ${dir}/${base}.tidl.d)
  if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.20)
    set(depends DEPFILE ${depfile})
  else()
    set(depends)
  endif()
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${compiler} ${source} -o ${dir} ${imports} --depfile ${depfile}
    DEPENDS ${source} ${compiler_dep}
    ${depends}
    COMMENT "tern idl ${file}"
    VERBATIM)
  set(${var} ${dir}/${base}_xdr.c ${dir}/${base}_client.c ${dir}/${base}_server.c PARENT_SCOPE)
endfunction()
