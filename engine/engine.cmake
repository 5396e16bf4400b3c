# The engine proper (included from engine/CMakeLists.txt).
add_library(cuclip_engine STATIC
  src/model.cpp
  src/forward.cpp
  src/cpu_backend.cpp
  src/backend_factory.cpp
  src/c_api.cpp src/random_model.cpp)
target_link_libraries(cuclip_engine PUBLIC cuclip_format cuclip_tokenizer cuclip_image cuclip_cpu OpenMP::OpenMP_CXX)
target_compile_options(cuclip_engine PRIVATE ${CUCLIP_WARNINGS})
# kernels/resize_item.hpp: the plain description of a device resize batch (src/resize_batch.hpp).
target_include_directories(cuclip_engine PRIVATE ${PROJECT_SOURCE_DIR})
include(${CMAKE_CURRENT_SOURCE_DIR}/gpu_backend.cmake)  # the CUDA backend, emulated and real builds

# Every component in one library: the static archives for the tools and tests, one shared library
# (all their objects) for users.
set(CUCLIP_COMPONENTS cuclip_base cuclip_format cuclip_tokenizer cuclip_image cuclip_cpu cuclip_engine)
add_library(cuclip_static INTERFACE)
target_link_libraries(cuclip_static INTERFACE ${CUCLIP_COMPONENTS})
set(cuclip_objects)
foreach(c ${CUCLIP_COMPONENTS})
  list(APPEND cuclip_objects $<TARGET_OBJECTS:${c}>)
endforeach()
add_library(cuclip SHARED src/shared_library.cpp ${cuclip_objects})
# The archives add nothing the objects do not define; linking them brings their dependencies.
target_link_libraries(cuclip PRIVATE ${CUCLIP_COMPONENTS})
target_include_directories(cuclip PUBLIC
  $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
set_target_properties(cuclip PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
  PUBLIC_HEADER ${CMAKE_CURRENT_SOURCE_DIR}/include/cuclip.h)
install(TARGETS cuclip EXPORT cuclipTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  PUBLIC_HEADER DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT cuclipTargets NAMESPACE cuclip:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cuclip)
add_library(cuclip::cuclip ALIAS cuclip)

# The CLI.
file(GLOB CUCLIP_CLI_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/cli/*.cpp)
add_executable(cuclip-cli ${CUCLIP_CLI_SOURCES})
target_link_libraries(cuclip-cli PRIVATE cuclip_static)
target_compile_options(cuclip-cli PRIVATE ${CUCLIP_WARNINGS})
set_target_properties(cuclip-cli PROPERTIES OUTPUT_NAME cuclip RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
install(TARGETS cuclip-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/data/openai_imagenet_templates.txt DESTINATION ${CMAKE_INSTALL_DATADIR}/cuclip)
