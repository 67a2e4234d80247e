# aw_add_shaders(GROUP <name> TARGET <target> SOURCES <files...>)
#
# Compiles GLSL shaders (.vert .frag .comp ...) to SPIR-V with glslc for Vulkan 1.3, checks each
# module with spirv-val, and embeds them into <target>: a generated <name>_spirv.h declares, for
# shaders/foo.comp,
#     extern const uint32_t aw_spirv_foo_comp[];   extern const size_t aw_spirv_foo_comp_size;
# (size in bytes). Embedding keeps tests and tools free of run-time shader paths; the .spv files
# are also left in ${CMAKE_BINARY_DIR}/shaders for aw_gpu_shader_from_file and inspection.
# Shaders may #include files next to them (glslc -MD tracks the dependencies).
find_program(AW_GLSLC glslc REQUIRED)
find_program(AW_SPIRV_VAL spirv-val REQUIRED)


function(aw_add_shaders)
  set(AW_SHADERS_EMBED_SCRIPT ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/aw_embed_spirv.cmake)
  cmake_parse_arguments(ARG "" "GROUP;TARGET" "SOURCES" ${ARGN})
  if(NOT ARG_GROUP OR NOT ARG_TARGET OR NOT ARG_SOURCES)
    message(FATAL_ERROR "aw_add_shaders: GROUP, TARGET and SOURCES are required")
  endif()
  set(out_dir ${CMAKE_BINARY_DIR}/shaders)
  file(MAKE_DIRECTORY ${out_dir})
  set(spv_files "")
  foreach(src ${ARG_SOURCES})
    get_filename_component(abs ${src} ABSOLUTE)
    get_filename_component(file ${src} NAME)
    set(spv ${out_dir}/${file}.spv)
    add_custom_command(
      OUTPUT ${spv}
      COMMAND ${AW_GLSLC} --target-env=vulkan1.3 -O -Werror -MD -MF ${spv}.d -o ${spv} ${abs}
      COMMAND ${AW_SPIRV_VAL} --target-env vulkan1.3 ${spv}
      DEPENDS ${abs}
      DEPFILE ${spv}.d
      COMMENT "glslc + spirv-val ${file}"
      VERBATIM)
    list(APPEND spv_files ${spv})
  endforeach()
  set(gen_c ${out_dir}/${ARG_GROUP}_spirv.c)
  set(gen_h ${out_dir}/${ARG_GROUP}_spirv.h)
  add_custom_command(
    OUTPUT ${gen_c} ${gen_h}
    COMMAND ${CMAKE_COMMAND} -DGROUP=${ARG_GROUP} -DOUT_C=${gen_c} -DOUT_H=${gen_h} "-DSPV_FILES=${spv_files}"
            -P ${AW_SHADERS_EMBED_SCRIPT}
    DEPENDS ${spv_files} ${AW_SHADERS_EMBED_SCRIPT}
    COMMENT "embedding ${ARG_GROUP} shaders"
    VERBATIM)
  target_sources(${ARG_TARGET} PRIVATE ${gen_c} ${gen_h})
  target_include_directories(${ARG_TARGET} PRIVATE ${out_dir})
endfunction()
