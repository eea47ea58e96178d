//! One module per command: its request, its report and the report's text rendering.
//! Commands never import each other; what two commands share lives in an engine.

pub mod doctor;
pub mod expiry;
pub mod fullchain;
pub mod import;
pub mod inspect;
pub mod kubeconfig;
pub mod probe;
pub mod push;
pub mod rotate;
pub mod selfsign;
pub mod verify;
