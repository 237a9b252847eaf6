"""python -m generate [--out DIR] from geodata/ (or python -m geodata.generate from the repository
root): the same as python geodata/build_zhongyang.py."""
from .build import main

if __name__ == "__main__":
    main()
