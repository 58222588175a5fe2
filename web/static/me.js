// /me
