"""The data behind the dashboard's history and documentation, as library code: a session's
summary recomputed from the stored events, the session report and its "objective data"
paragraph, a client's trends across sessions, CSV exports and the PDF report.

Every function reads the store through the SQLAlchemy `Session` it is given
(`Store.transaction()`) and takes the time zone to show local times in.
"""
