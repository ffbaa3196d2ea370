// Package me serves the caller-centric routes of API.md §4.2: the profile, display names of fellow
// members, the pinned default connection profile per application, and the first-login welcome setup.
package me
