"""What clients need to show the API to people: labels of every enumerated value."""
