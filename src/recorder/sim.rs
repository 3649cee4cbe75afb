//! The recorder simulator: writes volumes that follow the contract, clean or with faults.
