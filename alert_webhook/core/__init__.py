"""The tracker's pure core: the SOP's rules as functions of plain values.

Nothing here opens a database session, reads the clock or knows Flask: state comes in as arguments
(snapshots, calendars, instants) and decisions go out as values, so every rule is testable with a table.
"""
