"""`ganforge serve`: a local web page to generate from, watch and probe trained runs.

Needs the optional extra: pip install 'ganforge[serve]'. Entry points: `serve.app.start(open_runs([...]))`.
"""
