pub mod g711;
