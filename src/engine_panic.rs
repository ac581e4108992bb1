//! Panics of the storage engine as errors: redb documents that a file damaged outside it may make it
//! panic (a flipped 4 KiB page does), and a read-only open cannot run its integrity check first. So
//! the reads that may meet such a page (a verify walk, the recorded state root) run under
//! [`catch_engine_panic`], which turns the panic into an error message without printing it.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// Set while this thread runs [`catch_engine_panic`]: the panic hook then keeps quiet.
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    /// Where the last panic caught on this thread happened, recorded by the hook (a panic's payload
    /// carries only its message).
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs, once per process, the panic hook that keeps quiet on threads in [`catch_engine_panic`].
static QUIET_HOOK: Once = Once::new();

/// Runs `work`, returning its panic, if it panics, as its message and location instead of
/// unwinding further, and without the panic hook printing it (or a backtrace).
pub(crate) fn catch_engine_panic<T>(work: impl FnOnce() -> T) -> std::result::Result<T, String> {
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CATCHING.try_with(Cell::get).unwrap_or(false) {
                let _ = PANIC_LOCATION.try_with(|at| at.replace(info.location().map(ToString::to_string)));
            } else {
                previous(info);
            }
        }));
    });
    /// Restores the flag however `work` ends.
    struct Catching(bool);
    impl Drop for Catching {
        fn drop(&mut self) {
            CATCHING.set(self.0);
        }
    }
    let _restore = Catching(CATCHING.replace(true));
    // Unwind safety: after a panic nothing `work` touched is used here, and the caller is told to
    // drop the store.
    catch_unwind(AssertUnwindSafe(work)).map_err(|payload| {
        let message = panic_message(payload.as_ref());
        match PANIC_LOCATION.take() {
            Some(at) => format!("{message}, at {at}"),
            None => message.to_string(),
        }
    })
}

/// Whether this thread is in [`catch_engine_panic`] (tests check the flag is reset).
#[cfg(test)]
pub(crate) fn is_catching() -> bool {
    CATCHING.get()
}

/// The message a panic was raised with, if it is text.
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    match (payload.downcast_ref::<&'static str>(), payload.downcast_ref::<String>()) {
        (Some(message), _) => message,
        (None, Some(message)) => message,
        (None, None) => "(no message)",
    }
}
