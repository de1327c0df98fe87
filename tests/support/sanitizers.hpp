// Which sanitizer instruments this build of the tests: GCC defines __SANITIZE_*__, clang has
// __has_feature. Tests that cannot hold under one skip there, each saying why where it skips:
//  * ThreadSanitizer cannot start threads in the child of a multi-threaded process (it dies
//    with "starting new threads after multi-threaded fork is not supported");
//  * clang 14's AddressSanitizer does not lock its allocator around fork() (it does from
//    LLVM 18), so a child can inherit an allocator region locked by a parent thread that was
//    allocating, and its background thread then hangs inside the sanitizer (seen: ASan's
//    SizeClassAllocator64 wait under pthread_getattr_np in the child's new thread);
//  * memory bounds measured from /proc do not hold under either (shadow memory, quarantined
//    frees).
#pragma once

#if defined(__SANITIZE_THREAD__)
#define LOGFIRE_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LOGFIRE_UNDER_TSAN 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define LOGFIRE_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LOGFIRE_UNDER_ASAN 1
#endif
#endif
