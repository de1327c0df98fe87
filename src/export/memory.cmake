# In-memory exporter (public: logfire/memory_exporter.hpp), for tests of instrumented code.
target_sources(logfire PRIVATE ${CMAKE_CURRENT_LIST_DIR}/memory_exporter.cpp)
