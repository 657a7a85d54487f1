#include "curl_easy.hpp"

#include <mutex>

namespace jobrunner::curl_easy {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw std::runtime_error("libcurl could not be initialised (curl_global_init)");
    }
  });
}

Handle make_handle() {
  global_init();
  Handle handle(curl_easy_init());
  if (!handle) throw std::runtime_error("libcurl could not create a handle (curl_easy_init)");
  return handle;
}

void StringList::append(const std::string& item) {
  curl_slist* next = curl_slist_append(list_.get(), item.c_str());
  if (next == nullptr) throw std::runtime_error("out of memory building a libcurl list");
  (void)list_.release();  // curl_slist_append returned the same list, extended
  list_.reset(next);
}

}  // namespace jobrunner::curl_easy
