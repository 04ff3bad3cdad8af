// The few libuv 1.x calls the queue waiter needs, declared here because node-api-headers (what we
// build against, with no download) ships no uv.h. libuv keeps its ABI stable across 1.x and the
// node binary exports these symbols; Node-API hands out the loop (napi_get_uv_event_loop).
#pragma once
#include <cstddef>

extern "C" {
typedef struct uv_loop_s uv_loop_t;
typedef struct uv_handle_s uv_handle_t;
typedef struct uv_poll_s uv_poll_t;
typedef struct uv_prepare_s uv_prepare_t;
typedef struct uv_check_s uv_check_t;
typedef void (*uv_poll_cb)(uv_poll_t* handle, int status, int events);
typedef void (*uv_prepare_cb)(uv_prepare_t* handle);
typedef void (*uv_check_cb)(uv_check_t* handle);
typedef void (*uv_close_cb)(uv_handle_t* handle);

size_t uv_handle_size(int type);
int uv_poll_init(uv_loop_t* loop, uv_poll_t* handle, int fd);
int uv_poll_start(uv_poll_t* handle, int events, uv_poll_cb cb);
int uv_poll_stop(uv_poll_t* handle);
int uv_prepare_init(uv_loop_t* loop, uv_prepare_t* handle);
int uv_prepare_start(uv_prepare_t* handle, uv_prepare_cb cb);
int uv_prepare_stop(uv_prepare_t* handle);
int uv_check_init(uv_loop_t* loop, uv_check_t* handle);
int uv_check_start(uv_check_t* handle, uv_check_cb cb);
int uv_check_stop(uv_check_t* handle);
void uv_close(uv_handle_t* handle, uv_close_cb close_cb);
void uv_unref(uv_handle_t* handle);
int uv_backend_fd(const uv_loop_t* loop);
int uv_backend_timeout(const uv_loop_t* loop);
}

namespace tessera {
constexpr int kUvCheck = 2;     // UV_CHECK in uv_handle_type
constexpr int kUvPoll = 8;      // UV_POLL
constexpr int kUvPrepare = 9;   // UV_PREPARE
constexpr int kUvReadable = 1;  // UV_READABLE in uv_poll_event
// Every libuv handle starts with `void* data` (UV_HANDLE_FIELDS): the one field we touch.
inline void*& HandleData(void* handle) { return *static_cast<void**>(handle); }
}  // namespace tessera
