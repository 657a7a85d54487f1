#pragma once
// A measurement that could not be made, as opposed to a target that was
// missed: the bench names it at the end and exits non-zero.

#include <stdexcept>

namespace jobrunner::bench {

class MeasureFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace jobrunner::bench
