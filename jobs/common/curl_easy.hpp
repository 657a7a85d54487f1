#pragma once
// What the libcurl clients of the job types share (webhook's HTTP client,
// mail's SMTP client): the process-wide init, an easy handle, options that
// throw, and a string list. Nothing here knows a protocol.

#include <curl/curl.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace jobrunner::curl_easy {

// curl_global_init, once per process (thread-safe). Throws
// std::runtime_error when libcurl cannot be initialised.
void global_init();

struct HandleDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using Handle = std::unique_ptr<CURL, HandleDeleter>;
// global_init(), then a fresh easy handle; throws std::runtime_error if
// libcurl gives none.
Handle make_handle();

// curl_easy_setopt that throws std::runtime_error naming libcurl's refusal.
template <typename T>
void set(CURL* handle, CURLoption option, T value) {
  if (const auto code = curl_easy_setopt(handle, option, value); code != CURLE_OK) {
    throw std::runtime_error(std::string("libcurl refused an option: ") +
                             curl_easy_strerror(code));
  }
}

// A curl_slist (headers, recipients), freed with the object.
class StringList {
 public:
  // Throws std::runtime_error when out of memory.
  void append(const std::string& item);
  curl_slist* get() const noexcept { return list_.get(); }

 private:
  struct Deleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
  };
  std::unique_ptr<curl_slist, Deleter> list_;
};

}  // namespace jobrunner::curl_easy
