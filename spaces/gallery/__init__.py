"""The gallery: every hfnets demo as a tab of one app."""
