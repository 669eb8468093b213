//! Placeholder until the adapter lands (being written on its own branch).

use crate::config::{ConfigError, ServiceConfig};

pub struct Robokassa;

impl Robokassa {
    pub fn new(_config: &ServiceConfig) -> Result<Box<Self>, ConfigError> {
        Err(ConfigError::Missing("the robokassa adapter"))
    }
}
