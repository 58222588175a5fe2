// /console
