#include "outcome_of.hpp"

#include <cxxabi.h>

#include <memory>
#include <typeinfo>

#include "jobrunner/core/errors.hpp"

namespace jobrunner {
namespace {

std::string type_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? name.get() : type.name();
}

}  // namespace

Outcome outcome_of(std::exception_ptr error) {
  using Kind = Outcome::Kind;
  try {
    std::rethrow_exception(error);
  } catch (const DatabaseUnavailable&) {
    throw;
  } catch (const RetryError& e) {
    return {Kind::retry, type_name(typeid(e)), e.what(), e.min_delay()};
  } catch (const UserError& e) {
    return {Kind::user_error, type_name(typeid(e)), e.what()};
  } catch (const SuspendJob& e) {
    return {Kind::suspend, type_name(typeid(e)), e.what()};
  } catch (const std::exception& e) {
    return {Kind::unexpected, type_name(typeid(e)), e.what()};
  } catch (...) {
    return {Kind::unexpected, "unknown", "a non-standard exception was thrown"};
  }
}

}  // namespace jobrunner
