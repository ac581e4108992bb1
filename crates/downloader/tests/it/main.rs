//! Integration tests of the downloader.
