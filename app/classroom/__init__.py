"""The classroom: the class's question and the teacher's focus, the lessons and their data
files, the Chinese text of the API, and the addresses students can open."""
