//! Voice quality: the P.862-style full-reference score and the E-model (ITU-T G.107).
