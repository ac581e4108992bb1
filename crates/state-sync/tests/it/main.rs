//! Integration tests of one state sync, driven by a scripted tracker: the test decides how each
//! request ends.

mod scripted;
