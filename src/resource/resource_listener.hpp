// Exporters that carry the resource on the wire implement this to learn about attributes found
// after they were created (GCP metadata: cloud.account.id, cloud.region, faas.instance).
// Called on the pipeline's background thread, between batches.
#pragma once

#include "resource/resource.hpp"

namespace logfire::detail {

class resource_listener {
 public:
  // Sets every attribute of `additions` on the exporter's copy of the resource.
  virtual void add_resource_attributes(const resource& additions) noexcept = 0;

 protected:
  ~resource_listener() = default;
};

}  // namespace logfire::detail
