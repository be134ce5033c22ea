//! Progress on stderr: a bar for a run long enough to wonder about, and
//! the notes that say what a run is reading.
//!
//! A run (an audit, an explain, a network drawn, a gain's self-check, a
//! phase diagram) goes through phases whose units it knows in advance:
//! claims planned, trials evaluated, draws of a network made, moments
//! sampled. It names the phase ([`phase`]) and counts the units
//! ([`advance`]); one bar per run shows them. The bar is drawn only when
//! the command line asked for it ([`init`]: the library alone is silent),
//! stderr is a terminal, and the run has lasted [`DELAY`] (or what
//! `INITAUDIT_PROGRESS_AFTER` says, in milliseconds), so that a quick
//! `check` prints nothing; it is cleared when the run ends, so nothing of
//! it stays on the screen. It never writes to stdout.
//!
//! Progress reads counts and decides nothing: the results, and stdout's
//! bytes, are the same with or without it, at any thread count (a count is
//! an atomic add, and the order in which threads add does not matter).
//!
//! The bar is process-wide rather than passed down, so that the places
//! that count (the audit's trials, a network's draws) need a call, not a
//! new parameter through every layer; a run inside a run (the audit that
//! `init` and `meanfield` restate their numbers through) counts on the
//! outer bar.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long a run goes before its bar is shown.
pub const DELAY: Duration = Duration::from_secs(1);

/// Whether the command line asked for progress and notes.
static SHOWN: AtomicBool = AtomicBool::new(false);

/// The bar of the run in progress, if it has one.
static CURRENT: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Turns progress and notes on (`quiet` false) or leaves them off. Only
/// the command line calls this; errors are printed either way.
pub fn init(quiet: bool) {
    SHOWN.store(!quiet, Ordering::Relaxed);
}

/// A note on stderr about what a run is reading or doing (`auditing
/// derivations/ (11 files)`), unless quiet; printed above the bar, if one
/// is shown.
pub fn note(text: &str) {
    if !SHOWN.load(Ordering::Relaxed) {
        return;
    }
    match current() {
        Some(bar) => bar.suspend(|| eprint!("{text}")),
        None => eprint!("{text}"),
    }
}

fn current() -> Option<ProgressBar> {
    if !SHOWN.load(Ordering::Relaxed) {
        return None;
    }
    CURRENT.lock().ok()?.clone()
}

/// A run's bar, from [`run`] until dropped.
#[must_use = "the bar lasts as long as this value"]
pub struct Run {
    owns: bool,
}

/// Starts a run's bar (hidden until the run has lasted the delay), unless
/// progress is off, stderr is not a terminal, or a run is already counting.
pub fn run() -> Run {
    let quiet = Run { owns: false };
    if !SHOWN.load(Ordering::Relaxed) || !std::io::stderr().is_terminal() {
        return quiet;
    }
    let Ok(mut slot) = CURRENT.lock() else {
        return quiet;
    };
    if slot.is_some() {
        return quiet;
    }
    let delay = std::env::var("INITAUDIT_PROGRESS_AFTER")
        .ok()
        .and_then(|ms| ms.trim().parse().ok())
        .map_or(DELAY, Duration::from_millis);
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
    bar.set_style(style(0));
    bar.set_message("starting");
    *slot = Some(bar.clone());
    if delay.is_zero() {
        show(&bar);
    } else {
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            if !bar.is_finished() {
                show(&bar);
            }
        });
    }
    Run { owns: true }
}

fn show(bar: &ProgressBar) {
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar.tick();
}

impl Drop for Run {
    fn drop(&mut self) {
        if !self.owns {
            return;
        }
        if let Some(bar) = CURRENT.lock().ok().and_then(|mut s| s.take()) {
            bar.finish_and_clear();
        }
    }
}

/// A bar with a count, or a spinner for a phase whose units are not
/// counted (`total` 0).
fn style(total: u64) -> ProgressStyle {
    let template = if total == 0 {
        "{spinner} {msg} ({elapsed})"
    } else {
        "{msg} [{bar:30}] {pos}/{len} ({elapsed})"
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// The run enters a phase of `total` units (0: not counted), described by
/// `what`.
pub fn phase(what: &str, total: u64) {
    if let Some(bar) = current() {
        bar.set_style(style(total));
        bar.set_length(total);
        bar.set_position(0);
        bar.set_message(what.to_string());
    }
}

/// `n` more units of the phase are done.
pub fn advance(n: u64) {
    if let Some(bar) = current() {
        bar.inc(n);
    }
}
