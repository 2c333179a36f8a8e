from allocpolicy.cli import run

run()
