# Message templates, run by the background thread.
target_sources(logfire PRIVATE ${CMAKE_CURRENT_LIST_DIR}/message_template.cpp)
