//! The exporter's live inventory: one slot per source (a watched resource of a cluster
//! context, the node's files, an endpoint), each holding only the items parsed from what
//! it read — never the Kubernetes objects — and how the source stands.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use time::OffsetDateTime;

use super::super::prometheus::labels;
use super::super::{summarize, ExpiryReport, Item, SourceState};
use super::rancher::Gauge;

/// The inventory at one instant, for the page: copied, judged, sorted.
pub(crate) struct Snapshot {
    /// Every item judged at that instant.
    pub report: ExpiryReport,
    /// Every source has been read (or has failed) once.
    pub ready: bool,
}

/// Every source's items and state, shared by the sources (writers) and the HTTP side.
#[derive(Default)]
pub(crate) struct Inventory {
    slots: Mutex<BTreeMap<String, Slot>>,
}

/// An item as the exporter keeps it: with its series' label set, rendered once.
#[derive(Debug)]
pub(crate) struct Kept {
    /// The item (its fix is computed when shown: it follows the clock).
    pub item: Item,
    /// Its label set in the exposition format.
    pub labels: String,
}

impl Kept {
    fn new(mut item: Item) -> Kept {
        item.forget_fix();
        let labels = labels(&item);
        Kept { item, labels }
    }
}

/// One source.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    /// Items per object (`NAMESPACE/NAME` for a watched resource, `""` for a source read
    /// as a whole).
    objects: HashMap<String, Vec<Kept>>,
    /// A relist in progress: the objects listed so far, swapped in when the list ends.
    pending: Option<HashMap<String, Vec<Kept>>>,
    /// What the source says about itself (`read`, `unreachable`, `unavailable`,
    /// `starting`); a source read as a whole may report several (one per `--path`).
    pub states: Vec<SourceState>,
    /// The source has been read completely once, or has failed once: its state is
    /// known (`/readyz`).
    pub ready: bool,
    /// Failed requests since start.
    pub errors: u64,
    /// Complete lists since start (the first one included).
    pub lists: u64,
    /// What only rcert knows about the source (agents' checksums, one chain), as gauges.
    pub gauges: Vec<Gauge>,
}

impl Slot {
    /// A relist began: objects are collected aside until [`Slot::list_done`].
    pub fn list_started(&mut self) {
        self.pending = Some(HashMap::new());
    }

    /// One object of a relist (or a change, outside a relist).
    pub fn apply(&mut self, key: String, items: Vec<Item>) {
        let items = items.into_iter().map(Kept::new).collect();
        match self.pending.as_mut() {
            Some(pending) => pending.insert(key, items),
            None => self.objects.insert(key, items),
        };
    }

    /// An object deleted.
    pub fn delete(&mut self, key: &str) {
        self.objects.remove(key);
    }

    /// The relist is complete: what it listed replaces what was known.
    pub fn list_done(&mut self) {
        if let Some(listed) = self.pending.take() {
            self.objects = listed;
        }
        self.lists += 1;
        self.ready = true;
    }

    /// Replace everything (a source read as a whole).
    pub fn replace(&mut self, items: Vec<Item>, states: Vec<SourceState>) {
        let items = items.into_iter().map(Kept::new).collect();
        self.objects = HashMap::from([(String::new(), items)]);
        self.states = states;
        self.lists += 1;
        self.ready = true;
    }

    /// Objects currently known.
    pub fn object_count(&self) -> usize {
        self.objects.len()
    }

    /// Whether the source's last request succeeded.
    pub fn is_up(&self) -> bool {
        self.states.iter().all(|state| state.state == "read")
    }

    /// Set the one state of a watched source.
    pub fn set_state(&mut self, state: &str, message: String) {
        let source = self.states.first().map(|s| s.source.clone());
        let context = self.states.first().and_then(|s| s.context.clone());
        self.states = vec![SourceState {
            source: source.unwrap_or_default(),
            context,
            state: state.to_string(),
            message,
        }];
    }
}

/// Everything a scrape renders, borrowed from the inventory.
pub(crate) struct Rendering<'a> {
    /// Every item with its label set.
    pub kept: Vec<&'a Kept>,
    /// Every source's state.
    pub sources: Vec<SourceState>,
    /// Every source's counters.
    pub counters: Vec<SourceCounters>,
    /// Every source's gauges.
    pub gauges: Vec<&'a Gauge>,
    /// Every source has been read (or has failed) once.
    pub ready: bool,
}

/// Counters the exporter adds to the inventory's own metrics.
#[derive(Debug, Clone)]
pub(crate) struct SourceCounters {
    /// The source's name.
    pub source: String,
    /// Its context, under `--all-contexts`.
    pub context: Option<String>,
    /// Failed requests since start.
    pub errors: u64,
    /// Complete lists since start.
    pub lists: u64,
}

impl Inventory {
    /// Add a source, not read yet.
    pub fn register(&self, key: &str, context: Option<String>) {
        let mut slots = self.lock();
        slots.entry(key.to_string()).or_insert_with(|| Slot {
            states: vec![SourceState {
                source: key.to_string(),
                context,
                state: "starting".to_string(),
                message: "not read yet".to_string(),
            }],
            ..Slot::default()
        });
    }

    /// Change a source under the lock.
    pub fn with<T>(&self, key: &str, change: impl FnOnce(&mut Slot) -> T) -> Option<T> {
        self.lock().get_mut(key).map(change)
    }

    /// The sources not yet read completely once (`/readyz` waits for none).
    pub fn waiting_for(&self) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|(_, slot)| !slot.ready)
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// The inventory as it stands at `at`: every item judged again, sorted, counted.
    pub fn snapshot(&self, at: OffsetDateTime, within: Duration) -> Snapshot {
        let (items, sources, ready) = self.render(|view| {
            let items: Vec<Item> = view.kept.iter().map(|kept| kept.item.clone()).collect();
            (items, view.sources.clone(), view.ready)
        });
        let items = items
            .into_iter()
            .map(|mut item| {
                item.rejudge(at, within);
                item
            })
            .collect();
        Snapshot {
            report: summarize(items, sources, at, within, 0),
            ready,
        }
    }

    /// Call `render` with every kept item and every source's state, counters and gauges
    /// under the lock, without copying them (a scrape of tens of thousands of series).
    pub fn render<T>(&self, render: impl FnOnce(&Rendering<'_>) -> T) -> T {
        let slots = self.lock();
        let kept: Vec<&Kept> = slots
            .values()
            .flat_map(|slot| slot.objects.values().flatten())
            .collect();
        let sources: Vec<SourceState> = slots
            .values()
            .flat_map(|slot| slot.states.clone())
            .collect();
        // Counted per source as `rcert_source_up` names it (a slot read as a whole, the
        // node and each --path, shares its counters), so the two join.
        let counters = slots
            .values()
            .flat_map(|slot| {
                slot.states.iter().map(|state| SourceCounters {
                    source: state.source.clone(),
                    context: state.context.clone(),
                    errors: slot.errors,
                    lists: slot.lists,
                })
            })
            .collect();
        let gauges = slots.values().flat_map(|slot| slot.gauges.iter()).collect();
        render(&Rendering {
            kept,
            sources,
            counters,
            gauges,
            ready: slots.values().all(|slot| slot.ready),
        })
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Slot>> {
        // A writer that panicked left consistent data (every change is one assignment).
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
