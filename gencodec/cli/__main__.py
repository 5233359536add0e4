from gencodec.cli.main import main

main()
