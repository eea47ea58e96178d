//! SIGINT/SIGTERM (Ctrl-C) during a change: counted instead of ending the process, so
//! the change finishes the request or file in flight, puts back what this run changed,
//! says what state every object is in and exits 130. A second one stops a roll back
//! where it is, and the report says what is left.
//!
//! While no [`Guard`] lives, the signals act as by default (the process ends). Guards
//! nest: the count starts at the outermost one and the default returns when it drops.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

/// Signals received since the outermost guard began.
static RECEIVED: AtomicUsize = AtomicUsize::new(0);

/// The one listener thread, while any guard lives, and how many guards live.
static ACTIVE: Mutex<Option<(usize, Listener)>> = Mutex::new(None);

struct Listener {
    handle: Handle,
    thread: std::thread::JoinHandle<()>,
}

/// True while no guard lives: a signal then ends the process as by default. Registered
/// once per process (signal-hook keeps a handler installed once set).
fn default_action() -> Option<&'static Arc<AtomicBool>> {
    static FLAG: OnceLock<Option<Arc<AtomicBool>>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(true));
        for signal in [SIGINT, SIGTERM] {
            signal_hook::flag::register_conditional_default(signal, flag.clone()).ok()?;
        }
        Some(flag)
    })
    .as_ref()
}

/// How many SIGINT/SIGTERM arrived since the outermost [`Guard`] began.
pub fn received() -> usize {
    RECEIVED.load(Ordering::SeqCst)
}

/// Whether the operator asked to stop (at least one signal).
pub fn requested() -> bool {
    received() > 0
}

/// Whether the operator asked twice: stop rolling back, say what is left.
pub fn requested_twice() -> bool {
    received() > 1
}

/// Counts SIGINT/SIGTERM while it lives.
pub struct Guard(());

impl Guard {
    /// Start counting. None when the handlers cannot be installed; the signals then
    /// keep their default action.
    pub fn watch() -> Option<Guard> {
        let mut active = ACTIVE.lock().ok()?;
        if let Some((depth, _)) = active.as_mut() {
            *depth += 1;
            return Some(Guard(()));
        }
        let flag = default_action()?;
        let mut signals = Signals::new([SIGINT, SIGTERM]).ok()?;
        let handle = signals.handle();
        RECEIVED.store(0, Ordering::SeqCst);
        let thread = std::thread::Builder::new()
            .name("rcert-signals".to_string())
            .spawn(move || {
                for _ in signals.forever() {
                    RECEIVED.fetch_add(1, Ordering::SeqCst);
                }
            })
            .ok()?;
        flag.store(false, Ordering::SeqCst);
        *active = Some((1, Listener { handle, thread }));
        Some(Guard(()))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let Ok(mut active) = ACTIVE.lock() else {
            return;
        };
        let last = match active.as_mut() {
            Some((depth, _)) if *depth > 1 => {
                *depth -= 1;
                false
            }
            _ => true,
        };
        if !last {
            return;
        }
        if let Some((_, listener)) = active.take() {
            listener.handle.close();
            let _ = listener.thread.join();
        }
        if let Some(flag) = default_action() {
            flag.store(true, Ordering::SeqCst);
        }
    }
}
