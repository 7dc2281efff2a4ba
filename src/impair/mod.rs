//! Network impairment: delay, jitter, loss (Bernoulli, Gilbert–Elliott), reordering and
//! duplication, seeded and IO-free; used in the harness's media path and by `callcert impair`.
