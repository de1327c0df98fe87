# OTLP metrics encoding: ExportMetricsServiceRequest bodies written directly (no libprotobuf).
target_sources(logfire PRIVATE ${CMAKE_CURRENT_LIST_DIR}/otlp_metrics.cpp)
