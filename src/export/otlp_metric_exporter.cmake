# OTLP/HTTP metric exporter: metric bodies through the OTLP exporter's delivery engine.
target_sources(logfire PRIVATE ${CMAKE_CURRENT_LIST_DIR}/otlp_metric_exporter.cpp)
