# In-memory metric exporter (public: logfire/memory_metric_exporter.hpp), for tests of instrumented code.
target_sources(logfire PRIVATE ${CMAKE_CURRENT_LIST_DIR}/memory_metric_exporter.cpp)
