"""Audiences: declarative rule trees and the in-session attributes they read."""
