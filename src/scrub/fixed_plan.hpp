// What scrub_attributes' shortcuts decide from keys and value types alone, for attributes whose
// keys and types repeat record after record: a call site's layout (record/records.hpp). Made once
// by scrubber::plan_fixed(); scrubber::leaves_alone(plan, attrs) then reads only the texts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace logfire::detail {

struct fixed_scrub_plan {
  bool never_alone = false;          // a key matches a pattern, or a value is neither a scalar nor a text
  std::size_t key_bytes = 0;         // what the keys read take of the scan budget
  std::vector<std::uint32_t> texts;  // the attributes whose texts are searched (when they are texts)
};

}  // namespace logfire::detail
