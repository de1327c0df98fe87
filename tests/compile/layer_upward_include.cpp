// A source of the record layer including the pipeline, a layer above it: rejected by the build.
#include "pipeline/pipeline.hpp"

int main() {}
