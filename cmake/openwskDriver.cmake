# openwsk_add_driver(NAME SOURCES src... [WPP src...] [INCLUDE_DIRECTORIES dir...]
#                    [DEFINITIONS def...] [LIBRARIES lib...])
#
# Builds a WSK driver from unmodified driver sources as NAME.so, a module
# that wskhost loads: the WDK-compatible headers and their flags come with
# openwsk::openwsk, every symbol but DriverEntry is hidden (so a driver may
# define connect, bind, send... without clashing with libc or the runtime),
# an undefined symbol fails the link, and each WPP source gets its
# generated <source>.tmh.
include_guard(GLOBAL)
include(${CMAKE_CURRENT_LIST_DIR}/openwskWpp.cmake)
set(OPENWSK_DRIVER_EXPORTS ${CMAKE_CURRENT_LIST_DIR}/openwsk_driver.map)

function(openwsk_add_driver name)
  cmake_parse_arguments(D "" "" "SOURCES;WPP;INCLUDE_DIRECTORIES;DEFINITIONS;LIBRARIES" ${ARGN})
  if(NOT D_SOURCES)
    message(FATAL_ERROR "openwsk_add_driver(${name}): no SOURCES")
  endif()
  add_library(${name} MODULE ${D_SOURCES})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    LINK_DEPENDS ${OPENWSK_DRIVER_EXPORTS})
  target_link_libraries(${name} PRIVATE openwsk::openwsk ${D_LIBRARIES})
  # Only DriverEntry leaves the module (a version script rather than
  # -fvisibility=hidden, which would hide DriverEntry too); calls inside it
  # bind inside it.
  target_link_options(${name} PRIVATE
    -Wl,--version-script=${OPENWSK_DRIVER_EXPORTS} -Wl,-Bsymbolic)
  # Every symbol must resolve at link time (against libopenwsk and libc), so
  # a call to something openwsk lacks is a build error naming it, not a
  # dlopen failure in wskhost.  Not with clang's sanitizers: clang links
  # their runtime into the executable only, leaving modules' references to
  # it open on purpose (gcc links it into the module too).
  string(TOUPPER "${CMAKE_BUILD_TYPE}" _openwsk_config)
  get_directory_property(_openwsk_dir_opts COMPILE_OPTIONS)
  get_directory_property(_openwsk_dir_link LINK_OPTIONS)
  set(_openwsk_flags "${CMAKE_C_FLAGS} ${CMAKE_C_FLAGS_${_openwsk_config}} ${CMAKE_CXX_FLAGS}"
    " ${CMAKE_MODULE_LINKER_FLAGS} ${_openwsk_dir_opts} ${_openwsk_dir_link}")
  if(NOT ("${CMAKE_C_COMPILER_ID}${CMAKE_CXX_COMPILER_ID}" MATCHES "Clang"
          AND "${_openwsk_flags}" MATCHES "-fsanitize="))
    target_link_options(${name} PRIVATE -Wl,--no-undefined)
  endif()
  if(D_INCLUDE_DIRECTORIES)
    target_include_directories(${name} PRIVATE ${D_INCLUDE_DIRECTORIES})
  endif()
  if(D_DEFINITIONS)
    target_compile_definitions(${name} PRIVATE ${D_DEFINITIONS})
  endif()
  if(D_WPP)
    openwsk_wpp_tmh(${name} ${D_WPP})
  endif()
endfunction()
