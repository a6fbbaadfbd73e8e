"""Reports a bureau can open: .xlsx files of the dashboard figures and of a project's progress.

Built from the same machinery as the JSON answers (gateway/stats, gateway/flows/progress),
so a report's cells are the API's figures for the same station, month or project.
"""
